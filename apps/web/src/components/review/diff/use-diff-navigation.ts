import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useRef, useState } from "react";
import { type DiffRows, ESTIMATE } from "./use-diff-rows";

/**
 * The virtualised list and where the reader is in it: the current file (the one n/p or the tree went to,
 * else the one scrolled to), going to a file, and the tree keeping its current file in sight.
 */
export function useDiffNavigation({ patches, rows, order, fileRowIndex }: DiffRows) {
  const scroller = useRef<HTMLDivElement>(null);
  const fileTree = useRef<HTMLElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: (i) => ESTIMATE[rows[i]!.t],
    overscan: 12,
  });
  const items = virtualizer.getVirtualItems();
  const scrolledFile =
    rows[items.find((item) => item.end > (virtualizer.scrollOffset ?? 0) + 1)?.index ?? 0]?.file ?? order[0] ?? 0;
  // The file n/p or the tree went to. The scroll position alone cannot say: a diff shorter than its box
  // does not scroll at all, and the last files never reach the top. The reader scrolling again unpins it;
  // so does another diff (a pin belongs to the files it was made in).
  const [pin, setPin] = useState<{ file: number; patches: unknown } | null>(null);
  const pinned = pin && pin.patches === patches ? pin.file : null;
  const currentFile = pinned ?? scrolledFile;
  const unpin = useCallback(() => {
    const el = scroller.current;
    if (el && el.scrollHeight > el.clientHeight + 1) setPin(null);
  }, []);

  const goToFile = useCallback(
    (file: number) => {
      const index = fileRowIndex.get(file);
      if (index === undefined) return;
      setPin({ file, patches });
      virtualizer.scrollToIndex(index, { align: "start" });
      // The list scrolled inside its box; the page may still have the box (or that header) out of sight.
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          const header = scroller.current?.querySelector(`[data-index="${index}"]`);
          const box = header?.getBoundingClientRect();
          if (header && box && (box.top < 0 || box.bottom > window.innerHeight))
            header.scrollIntoView({ block: "start" });
        }),
      );
    },
    [fileRowIndex, virtualizer, patches],
  );

  // The tree follows: its current file stays in sight in its own scroll box, without moving the page.
  useEffect(() => {
    const nav = fileTree.current;
    const item = nav?.querySelector(`[data-file="${currentFile}"]`);
    if (!nav || !item) return;
    const at = item.getBoundingClientRect().top - nav.getBoundingClientRect().top;
    if (at < 0 || at > nav.clientHeight - 24) nav.scrollTop += at - nav.clientHeight / 3;
  }, [currentFile]);

  const stepFile = (step: number) => {
    if (order.length === 0) return;
    const at = order.indexOf(currentFile);
    goToFile(order[(at + step + order.length) % order.length]!);
  };
  return { scroller, fileTree, virtualizer, items, currentFile, goToFile, unpin, stepFile };
}
