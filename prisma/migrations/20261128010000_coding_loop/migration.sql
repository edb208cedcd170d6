-- AlterTable
ALTER TABLE "projects" ADD COLUMN     "checkpoints" JSONB NOT NULL DEFAULT '[]',
ADD COLUMN     "merge_strategy" TEXT NOT NULL DEFAULT 'merge',
ADD COLUMN     "max_attempts" INTEGER NOT NULL DEFAULT 3;

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN     "checkpoints" JSONB;

-- AlterTable
ALTER TABLE "runs" ADD COLUMN     "session_id" TEXT,
ADD COLUMN     "turns" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "input_tokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "output_tokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "cost_usd" DOUBLE PRECISION NOT NULL DEFAULT 0,
ADD COLUMN     "checks_passed" BOOLEAN,
ADD COLUMN     "merged_sha" TEXT;

-- CreateTable
CREATE TABLE "run_turns" (
    "id" TEXT NOT NULL,
    "run_id" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "head_sha" TEXT,
    "exit_code" INTEGER,
    "reason" TEXT,
    "input_tokens" INTEGER NOT NULL DEFAULT 0,
    "output_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_usd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "run_turns_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "checkpoint_results" (
    "id" TEXT NOT NULL,
    "run_id" TEXT NOT NULL,
    "turn_index" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "required" BOOLEAN NOT NULL,
    "passed" BOOLEAN NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "output" TEXT NOT NULL,
    "counts" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "checkpoint_results_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "review_comments" (
    "id" TEXT NOT NULL,
    "run_id" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "line" INTEGER NOT NULL,
    "body" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "head_sha" TEXT,
    "sent_in_turn" INTEGER,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "review_comments_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "run_turns_run_id_index_key" ON "run_turns"("run_id", "index");

-- CreateIndex
CREATE INDEX "checkpoint_results_run_id_turn_index_idx" ON "checkpoint_results"("run_id", "turn_index");

-- CreateIndex
CREATE INDEX "review_comments_run_id_idx" ON "review_comments"("run_id");

-- AddForeignKey
ALTER TABLE "run_turns" ADD CONSTRAINT "run_turns_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "checkpoint_results" ADD CONSTRAINT "checkpoint_results_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "review_comments" ADD CONSTRAINT "review_comments_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
