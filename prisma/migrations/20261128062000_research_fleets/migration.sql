-- AlterTable
ALTER TABLE "research_loops" ADD COLUMN     "dispatched_at" TIMESTAMP(3),
ADD COLUMN     "fleet_id" TEXT,
ADD COLUMN     "member_index" INTEGER;

-- CreateIndex
CREATE INDEX "research_loops_fleet_id_idx" ON "research_loops"("fleet_id");

-- AddForeignKey
ALTER TABLE "research_loops" ADD CONSTRAINT "research_loops_fleet_id_fkey" FOREIGN KEY ("fleet_id") REFERENCES "fleets"("id") ON DELETE SET NULL ON UPDATE CASCADE;
