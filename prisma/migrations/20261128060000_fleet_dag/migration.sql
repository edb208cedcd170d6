-- AlterTable
ALTER TABLE "runs" ADD COLUMN     "depends_on" TEXT[] DEFAULT ARRAY[]::TEXT[];
