-- AlterTable
ALTER TABLE "runs" ADD COLUMN     "holder" TEXT,
ADD COLUMN     "heartbeat_at" TIMESTAMP(3),
ADD COLUMN     "interruptions" INTEGER NOT NULL DEFAULT 0;
