/**
 * `npm run lint:size`: the size budget of the code base (issue 15).
 *
 *   - no source file over 400 lines (tests, generated code and fixtures aside)
 *   - no function over 120 lines outside tests (declarations, methods, arrows and function expressions,
 *     React components included; a function's lines are counted from its first to its last line)
 *
 * Prints what breaks the budget, largest first, and exits 1 when anything does.
 * `--top N` also lists the N largest files and functions whatever their size.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 120;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const topIndex = process.argv.indexOf("--top");
const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 0;

const isTest = (file: string) =>
  /\.(test|spec|bench)\.tsx?$/.test(file) || /^(test|e2e)\//.test(file) || file.includes("/fixtures/");

const files = execFileSync("git", ["ls-files", "*.ts", "*.tsx", "*.mts", "*.mjs"], { cwd: root, encoding: "utf8" })
  .split("\n")
  .filter((file) => file && !file.includes("/generated/") && !file.startsWith("tools/") && !isTest(file));

interface Measure {
  where: string;
  lines: number;
}

function functionName(node: ts.Node, source: ts.SourceFile): string {
  const named = node as ts.FunctionLikeDeclaration;
  if (named.name) return named.name.getText(source);
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(source);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  if (parent && ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(source).slice(0, 40)})`;
  return "(anonymous)";
}

const fileSizes: Measure[] = [];
const functionSizes: Measure[] = [];
for (const file of files) {
  let text: string;
  try {
    text = readFileSync(path.join(root, file), "utf8");
  } catch {
    continue; // deleted in the working tree but still in the index: nothing to measure
  }
  fileSizes.push({ where: file, lines: text.split("\n").length - (text.endsWith("\n") ? 1 : 0) });
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node) => {
    if (
      ts.isFunctionDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isArrowFunction(node) ||
      ts.isFunctionExpression(node) ||
      ts.isConstructorDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isSetAccessorDeclaration(node)
    ) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      functionSizes.push({ where: `${file}:${start + 1} ${functionName(node, source)}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

const bySize = (a: Measure, b: Measure) => b.lines - a.lines;
fileSizes.sort(bySize);
functionSizes.sort(bySize);
const bigFiles = fileSizes.filter((m) => m.lines > MAX_FILE_LINES);
const bigFunctions = functionSizes.filter((m) => m.lines > MAX_FUNCTION_LINES);

const print = (title: string, list: Measure[]) => {
  if (list.length === 0) return;
  console.log(title);
  for (const m of list) console.log(`  ${String(m.lines).padStart(5)}  ${m.where}`);
};
print(`Files over ${MAX_FILE_LINES} lines:`, bigFiles);
print(`Functions over ${MAX_FUNCTION_LINES} lines:`, bigFunctions);
if (top > 0) {
  print(`The ${top} largest files:`, fileSizes.slice(0, top));
  print(`The ${top} largest functions:`, functionSizes.slice(0, top));
}
console.log(
  `${files.length} source files; ${bigFiles.length} over ${MAX_FILE_LINES} lines, ` +
    `${bigFunctions.length} functions over ${MAX_FUNCTION_LINES} lines`,
);
process.exit(bigFiles.length + bigFunctions.length > 0 ? 1 : 0);
