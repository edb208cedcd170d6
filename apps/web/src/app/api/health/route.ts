import { getServices } from "@loopy/api/services";

export const dynamic = "force-dynamic";

/** 200 with the status of database, Redis and worker once all answer; 503 (same shape) before. */
export async function GET() {
  try {
    const health = await getServices().health();
    return Response.json(health, { status: health.ok ? 200 : 503 });
  } catch (error) {
    const detail = (error as Error).message;
    const down = { ok: false, detail };
    return Response.json({ ok: false, database: down, redis: down, worker: down }, { status: 503 });
  }
}
