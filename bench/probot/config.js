// Settings shared by the peer's two processes, from the environment the bench sets.
const redis = new URL(process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/14");

export const connection = {
  host: redis.hostname,
  port: Number(redis.port || 6379),
  db: Number(redis.pathname.slice(1) || 0),
  // BullMQ workers block on Redis: ioredis must not give up on a blocked command.
  maxRetriesPerRequest: null,
};

export const queueName = process.env.BENCH_QUEUE ?? "bench-probot-ack";

export const probotOptions = {
  appId: Number(process.env.BENCH_APP_ID),
  privateKey: process.env.BENCH_PRIVATE_KEY,
  secret: process.env.BENCH_WEBHOOK_SECRET,
  baseUrl: process.env.BENCH_GITHUB_URL,
  logLevel: "warn",
};
