"use client";

import { useSubscription } from "@trpc/tanstack-react-query";
import { useEffect, useState } from "react";
import { useTRPC } from "~/trpc/client";

const KEY = "loopy.notifications";
const WORTH: Record<string, string> = {
  awaiting_review: "awaits your review",
  needs_attention: "needs attention",
};
const FLEET_DONE: Record<string, string> = { completed: "finished", failed: "failed", cancelled: "was cancelled" };

function enabled(): boolean {
  return (
    typeof window !== "undefined" &&
    "Notification" in window &&
    Notification.permission === "granted" &&
    localStorage.getItem(KEY) === "on"
  );
}

/**
 * Browser notifications, after permission: a run waits for review or needs
 * attention, a fleet finishes. Mounted once (in the nav); one stream, opened
 * only while notifications are on.
 */
export function useNotifications() {
  const trpc = useTRPC();
  const [on, setOn] = useState(false);
  useEffect(() => {
    setOn(enabled());
    const update = () => setOn(enabled());
    window.addEventListener("loopy-notifications", update);
    return () => window.removeEventListener("loopy-notifications", update);
  }, []);
  useSubscription(
    trpc.fleets.changes.subscriptionOptions(undefined, {
      enabled: on,
      onData: (change) => {
        if (change.kind === "resync") return;
        const text = change.kind === "run" ? WORTH[change.status] : FLEET_DONE[change.status];
        if (!text) return;
        const id = change.kind === "run" ? change.runId : change.fleetId;
        const url = change.kind === "run" ? `/runs/${id}` : `/fleets/${id}`;
        const note = new Notification(`Loopy: ${change.kind} ${id} ${text}`, {
          tag: `${id}-${change.status}`,
          body: "Click to open it.",
        });
        note.onclick = () => {
          window.focus();
          window.location.assign(url);
        };
      },
    }),
  );
}

/** Asks for permission (it must come from a click) and turns notifications on or off. */
export function NotificationsToggle() {
  const [state, setState] = useState<"unsupported" | "off" | "on" | "denied">("off");
  useEffect(() => {
    if (!("Notification" in window)) setState("unsupported");
    else if (Notification.permission === "denied") setState("denied");
    else setState(enabled() ? "on" : "off");
  }, []);
  if (state === "unsupported") return null;
  async function toggle() {
    if (state === "on") {
      localStorage.setItem(KEY, "off");
      setState("off");
    } else {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        setState(permission === "denied" ? "denied" : "off");
        return;
      }
      localStorage.setItem(KEY, "on");
      setState("on");
    }
    window.dispatchEvent(new Event("loopy-notifications"));
  }
  return (
    <button
      type="button"
      data-testid="notifications-toggle"
      disabled={state === "denied"}
      onClick={() => void toggle()}
      title={
        state === "denied"
          ? "Notifications are blocked for this site in the browser's settings"
          : "Notify me when a run needs review or attention, or a fleet finishes"
      }
      className="rounded-md border border-white/10 px-2.5 py-1 text-xs text-gray-300 hover:border-white/30 disabled:opacity-50"
    >
      {state === "on" ? "🔔 Notifications on" : state === "denied" ? "Notifications blocked" : "Enable notifications"}
    </button>
  );
}
