// The peer's worker, in its own Node process: for each job the GitHub calls Liquid Book's
// acknowledgement job (bot/jobs/acknowledge.py) makes for a `/help` comment: 👀 on the comment,
// the author's permission, the book's settings file (not for an admin), then one answer comment
// (its body is the same text ours posts, passed in BENCH_ANSWER_BODY), with the same Redis
// marker that keeps a re-run from answering twice. Authenticated as the same app through
// Probot's own `probot.auth(installationId)` (installation tokens cached in the process).
// Probot's Octokit paces writes by default (plugin-throttling: one POST a second per
// installation, ahead of any answer from GitHub); Liquid Book only waits when GitHub says so
// (githubkit's retry-after), so the pacing is turned off here to compare the same work.
import { Redis } from "ioredis";
import { Worker } from "bullmq";
import { createProbot, ProbotOctokit } from "probot";
import { connection, probotOptions, queueName } from "./config.js";

const ROLES = ["none", "read", "triage", "write", "maintain", "admin"];
const answerBody = process.env.BENCH_ANSWER_BODY ?? "✅ What I can do";
const probot = createProbot({
  overrides: {
    ...probotOptions,
    // A function, not an object: Probot's own defaults replace an object's `throttle` whole.
    Octokit: ProbotOctokit.defaults((options) => ({
      ...options,
      throttle: { ...options.throttle, enabled: false },
    })),
  },
});
const redis = new Redis(connection);

function roleOf(permission) {
  const role = String(permission.role_name ?? "").toLowerCase();
  return ROLES.includes(role) ? role : String(permission.permission ?? "none").toLowerCase();
}

async function orNullOn404(promise) {
  try {
    return await promise;
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

async function acknowledge(job) {
  const request = job.data;
  const [owner, repo] = request.repository.split("/");
  const octokit = await probot.auth(request.installation_id);
  const reacted = await orNullOn404(
    octokit.request("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", {
      owner, repo, comment_id: request.comment_id, content: "eyes",
    }),
  );
  if (reacted === null) return "comment deleted";
  const permission = await orNullOn404(
    octokit.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", {
      owner, repo, username: request.author,
    }),
  );
  const role = permission === null ? "none" : roleOf(permission.data);
  let minRole = "write";
  if (role !== "admin") {
    const file = await orNullOn404(
      octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
        owner, repo, path: ".github/liquidbook.yml", ref: request.default_branch,
      }),
    );
    if (file !== null && file.data.encoding === "base64") {
      const text = Buffer.from(file.data.content, "base64").toString("utf8");
      minRole = /^\s*min_role:\s*(\w+)/m.exec(text)?.[1] ?? minRole;
    }
  }
  const issueComments = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments";
  if (ROLES.indexOf(role) < ROLES.indexOf(minRole)) {
    await octokit.request(issueComments, {
      owner, repo, issue_number: request.issue_number,
      body: `Sorry @${request.author}, commands here need the **${minRole}** role.`,
    });
    return "refused";
  }
  const marker = `bench-probot:answer-of:${request.repository}:${request.comment_id}`;
  if ((await redis.get(marker)) !== null) return "answered";
  const posted = await octokit.request(issueComments, {
    owner, repo, issue_number: request.issue_number, body: answerBody,
  });
  await redis.set(marker, String(posted.data.id), "EX", 7 * 24 * 3600);
  return "answered";
}

const worker = new Worker(queueName, acknowledge, {
  connection,
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 20),
});
worker.on("failed", (job, error) => console.error(`job ${job?.id} failed: ${error.message}`));
worker.on("ready", () => console.log("worker ready"));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, async () => {
    await worker.close(true);
    redis.disconnect();
    process.exit(0);
  });
}
