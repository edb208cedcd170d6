import type { NextConfig } from "next";

const config: NextConfig = {
  // Internal packages ship TypeScript source.
  transpilePackages: ["@loopy/api", "@loopy/core", "@loopy/config", "@loopy/agents", "@loopy/queue", "@loopy/db"],
  serverExternalPackages: ["pg", "@prisma/client", "@prisma/adapter-pg", "bullmq", "ioredis"],
  poweredByHeader: false,
  devIndicators: false,
};

export default config;
