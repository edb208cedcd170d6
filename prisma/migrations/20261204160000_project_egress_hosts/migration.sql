-- AlterTable
ALTER TABLE "projects" ADD COLUMN "egress_hosts" JSONB NOT NULL DEFAULT '[]';
