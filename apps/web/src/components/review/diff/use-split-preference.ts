import { useEffect, useState } from "react";

const KEY = "loopy.diff.layout";

/** Unified or split, remembered in this browser. */
export function useSplitPreference(): [boolean, (split: boolean) => void] {
  const [split, setSplit] = useState(false);
  useEffect(() => setSplit(window.localStorage.getItem(KEY) === "split"), []);
  return [
    split,
    (value: boolean) => {
      setSplit(value);
      window.localStorage.setItem(KEY, value ? "split" : "unified");
    },
  ];
}
