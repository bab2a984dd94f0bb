// The peer's webhook server: Probot verifies the signature (createNodeMiddleware on Node's own
// http server) and each `issue_comment.created` that may hold a command becomes one BullMQ job,
// keyed by the comment like Liquid Book's acknowledgement job.
import { createServer } from "node:http";
import { Queue } from "bullmq";
import { createNodeMiddleware, createProbot } from "probot";
import { connection, probotOptions, queueName } from "./config.js";

const queue = new Queue(queueName, { connection });
const MAX_COMMENT_CHARS = 65536;

function isBot(user) {
  return !user || user.type === "Bot" || String(user.login ?? "").endsWith("[bot]");
}

const appFn = (app) => {
  app.on("issue_comment.created", async (context) => {
    const { comment, issue, repository, installation, sender } = context.payload;
    if (!installation || isBot(sender) || isBot(comment.user)) return;
    const body = String(comment.body ?? "").slice(0, MAX_COMMENT_CHARS + 1);
    if (!/^[ \t]*\//m.test(body)) return; // a line that may be a command
    const request = {
      installation_id: installation.id,
      repository: repository.full_name,
      default_branch: repository.default_branch || "main",
      issue_number: issue.number,
      comment_id: comment.id,
      author: comment.user.login,
      body,
    };
    // BullMQ ids may not contain ":"; the id deduplicates like Liquid Book's job id.
    await queue.add("acknowledge_command", request, {
      jobId: `ack-${repository.full_name.replace("/", "-")}-${comment.id}`,
      removeOnComplete: true,
      removeOnFail: true,
    });
  });
};

const probot = createProbot({ overrides: probotOptions });
const middleware = await createNodeMiddleware(appFn, {
  probot,
  webhooksPath: "/api/github/webhooks",
});
const server = createServer((req, res) => {
  middleware(req, res, () => {
    res.writeHead(404).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), "127.0.0.1", () => {
  console.log(`listening on ${process.env.PORT}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, async () => {
    server.close();
    await queue.close();
    process.exit(0);
  });
}
