-- AlterTable
ALTER TABLE "runs" ADD COLUMN "review_wait_ms" DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE "runs" ADD COLUMN "waiting_since" TIMESTAMP(3);

-- Earlier runs: their waits for a human, from the status events (a wait lasts until the next status).
WITH statuses AS (
  SELECT run_id, data->>'status' AS status, created_at,
         lead(created_at) OVER (PARTITION BY run_id ORDER BY id) AS until
  FROM "run_events" WHERE type = 'status'
), waits AS (
  SELECT run_id,
         sum(EXTRACT(EPOCH FROM (until - created_at)) * 1000) FILTER (WHERE until IS NOT NULL) AS ended_ms,
         max(created_at) FILTER (WHERE until IS NULL) AS current_since
  FROM statuses WHERE status IN ('awaiting_review', 'needs_attention')
  GROUP BY run_id
)
UPDATE "runs" r
SET "review_wait_ms" = COALESCE(w.ended_ms, 0),
    "waiting_since" = CASE WHEN r.status IN ('awaiting_review', 'needs_attention') THEN w.current_since END
FROM waits w WHERE w.run_id = r.id;
