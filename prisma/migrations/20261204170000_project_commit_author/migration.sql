-- AlterTable
ALTER TABLE "projects" ADD COLUMN "commit_author_name" TEXT;
ALTER TABLE "projects" ADD COLUMN "commit_author_email" TEXT;
