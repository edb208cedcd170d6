-- CreateEnum
CREATE TYPE "fleet_status" AS ENUM ('running', 'paused', 'completed', 'cancelled', 'failed');

-- AlterTable
ALTER TABLE "projects" ADD COLUMN     "routing_rules" JSONB NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "routed_by" TEXT;

-- CreateTable
CREATE TABLE "fleets" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "status" "fleet_status" NOT NULL DEFAULT 'running',
    "status_reason" TEXT,
    "concurrency" INTEGER NOT NULL,
    "budget_usd" DOUBLE PRECISION,
    "budget_tokens" INTEGER,
    "budget_ms" INTEGER,
    "spent_usd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "spent_tokens" INTEGER NOT NULL DEFAULT 0,
    "metric_name" TEXT,
    "metric_direction" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "fleets_pkey" PRIMARY KEY ("id")
);

-- AlterTable
ALTER TABLE "runs" ADD COLUMN     "fleet_id" TEXT,
ADD COLUMN     "member_index" INTEGER,
ADD COLUMN     "dispatched_at" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "fleets_status_idx" ON "fleets"("status");

-- CreateIndex
CREATE INDEX "fleets_created_at_idx" ON "fleets"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "runs_fleet_id_member_index_key" ON "runs"("fleet_id", "member_index");

-- AddForeignKey
ALTER TABLE "runs" ADD CONSTRAINT "runs_fleet_id_fkey" FOREIGN KEY ("fleet_id") REFERENCES "fleets"("id") ON DELETE SET NULL ON UPDATE CASCADE;
