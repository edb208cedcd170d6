-- CreateEnum
CREATE TYPE "research_loop_status" AS ENUM ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "experiment_status" AS ENUM ('queued', 'running', 'keep', 'discard', 'crash', 'timeout', 'flagged');

-- CreateEnum
CREATE TYPE "experiment_kind" AS ENUM ('baseline', 'noise', 'candidate', 'confirm');

-- CreateTable
CREATE TABLE "research_loops" (
    "id" TEXT NOT NULL,
    "project_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "instructions" TEXT NOT NULL DEFAULT '',
    "editable_globs" JSONB NOT NULL DEFAULT '[]',
    "protected_files" JSONB NOT NULL DEFAULT '{}',
    "command" TEXT NOT NULL,
    "metric" TEXT NOT NULL,
    "direction" TEXT NOT NULL,
    "budget_ms" INTEGER NOT NULL,
    "hard_kill_multiple" DOUBLE PRECISION NOT NULL DEFAULT 2,
    "max_experiments" INTEGER,
    "wall_clock_ms" INTEGER,
    "cost_limit_usd" DOUBLE PRECISION,
    "cost_usd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "proposer" TEXT NOT NULL,
    "space" JSONB,
    "agent_profile_id" TEXT,
    "params_file" TEXT NOT NULL DEFAULT 'loopy.params.json',
    "seed" INTEGER NOT NULL DEFAULT 1,
    "noise_repeats" INTEGER NOT NULL DEFAULT 2,
    "confirm_runs" INTEGER NOT NULL DEFAULT 0,
    "slots" JSONB NOT NULL DEFAULT '[]',
    "status" "research_loop_status" NOT NULL DEFAULT 'queued',
    "status_reason" TEXT,
    "base_ref" TEXT NOT NULL,
    "base_sha" TEXT NOT NULL,
    "branch" TEXT NOT NULL,
    "worktree_path" TEXT,
    "best_experiment_id" TEXT,
    "best_commit" TEXT,
    "best_metric" DOUBLE PRECISION,
    "noise_floor" DOUBLE PRECISION,
    "holder" TEXT,
    "heartbeat_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "research_loops_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "experiments" (
    "id" TEXT NOT NULL,
    "loop_id" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "kind" "experiment_kind" NOT NULL,
    "status" "experiment_status" NOT NULL DEFAULT 'queued',
    "reason" TEXT,
    "confirms_id" TEXT,
    "params" JSONB,
    "description" TEXT NOT NULL DEFAULT '',
    "seed" INTEGER,
    "commit_sha" TEXT,
    "parent_sha" TEXT,
    "diff" TEXT,
    "diff_stats" JSONB,
    "additions" INTEGER,
    "deletions" INTEGER,
    "metric_value" DOUBLE PRECISION,
    "metrics" JSONB,
    "memory_gb" DOUBLE PRECISION,
    "log_tail" TEXT,
    "exit_code" INTEGER,
    "duration_ms" INTEGER,
    "cost_usd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "slot" TEXT,
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "claim_token" TEXT,
    "pid" INTEGER,
    "host" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "ended_at" TIMESTAMP(3),

    CONSTRAINT "experiments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "experiment_points" (
    "id" BIGSERIAL NOT NULL,
    "experiment_id" TEXT NOT NULL,
    "loop_id" TEXT NOT NULL,
    "step" DOUBLE PRECISION NOT NULL,
    "name" TEXT NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "experiment_points_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "research_events" (
    "id" BIGSERIAL NOT NULL,
    "loop_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "research_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "research_slot_leases" (
    "project_id" TEXT NOT NULL,
    "slot" TEXT NOT NULL,
    "loop_id" TEXT NOT NULL,
    "experiment_id" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "acquired_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "research_slot_leases_pkey" PRIMARY KEY ("project_id","slot")
);

-- CreateIndex
CREATE INDEX "research_loops_project_id_created_at_idx" ON "research_loops"("project_id", "created_at");

-- CreateIndex
CREATE INDEX "research_loops_status_idx" ON "research_loops"("status");

-- CreateIndex
CREATE UNIQUE INDEX "experiments_loop_id_index_key" ON "experiments"("loop_id", "index");

-- CreateIndex
CREATE INDEX "experiments_loop_id_status_idx" ON "experiments"("loop_id", "status");

-- CreateIndex
CREATE INDEX "experiments_slot_started_at_idx" ON "experiments"("slot", "started_at");

-- CreateIndex
CREATE INDEX "experiment_points_experiment_id_name_step_idx" ON "experiment_points"("experiment_id", "name", "step");

-- CreateIndex
CREATE INDEX "experiment_points_loop_id_id_idx" ON "experiment_points"("loop_id", "id");

-- CreateIndex
CREATE INDEX "research_events_loop_id_id_idx" ON "research_events"("loop_id", "id");

-- AddForeignKey
ALTER TABLE "research_loops" ADD CONSTRAINT "research_loops_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "research_loops" ADD CONSTRAINT "research_loops_agent_profile_id_fkey" FOREIGN KEY ("agent_profile_id") REFERENCES "agent_profiles"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "experiments" ADD CONSTRAINT "experiments_loop_id_fkey" FOREIGN KEY ("loop_id") REFERENCES "research_loops"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "experiment_points" ADD CONSTRAINT "experiment_points_experiment_id_fkey" FOREIGN KEY ("experiment_id") REFERENCES "experiments"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "research_events" ADD CONSTRAINT "research_events_loop_id_fkey" FOREIGN KEY ("loop_id") REFERENCES "research_loops"("id") ON DELETE CASCADE ON UPDATE CASCADE;
