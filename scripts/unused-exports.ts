/**
 * Exports that nothing imports, across the whole workspace: every package's and app's sources, scripts,
 * tests, e2e and examples. Reads each file's syntax only (no type checking), so it takes a second or two.
 *
 *   npx tsx scripts/unused-exports.ts          one line per unused export; exit code 1 when there is any
 *
 * An export counts as used when some other file imports it by name: through a relative path, the web's
 * "~/" alias, or a workspace package's "exports" subpath ("@loopy/core/runs"). `import * as`, a dynamic
 * `import()`, `require()` and `export * from` count as using every export of their target. Files a
 * framework or tool loads by their exports (Next.js app routes, *.config.ts, tests) are entry points and
 * never reported, and neither are the files a config file names (vitest's globalSetup). "only here" marks
 * a value its own file uses: drop the `export` keyword; the others are dead code. A type or interface its
 * own file uses is not reported: it describes an exported function's parameters or result.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const root = path.resolve(import.meta.dirname, "..");
const SOURCE = /\.(ts|tsx|mts|js|mjs)$/;
const SKIP_DIRS = new Set(["node_modules", "generated", ".next", "dist", ".turbo", ".git", "test-results"]);
/** Folders (from the root) whose files are read for imports. */
const TOP_LEVEL = ["scripts", "test", "e2e", "examples"];

/** Next.js loads these files of the app router (and apps/web/src/proxy.ts) by their exports. */
const NEXT_ENTRY =
  /^(page|layout|template|default|loading|error|global-error|not-found|forbidden|unauthorized|route|icon|apple-icon|opengraph-image|twitter-image|sitemap|robots|manifest)\.(ts|tsx)$/;

function isEntryPoint(file: string): boolean {
  const rel = path.relative(root, file);
  const base = path.basename(file);
  if (/\.(test|spec|bench)\.(ts|tsx)$/.test(base) || /\.config\.(ts|mts|mjs|js)$/.test(base)) return true;
  if (rel.startsWith(`apps${path.sep}web${path.sep}src${path.sep}app${path.sep}`) && NEXT_ENTRY.test(base)) return true;
  return (
    rel === path.join("apps", "web", "src", "proxy.ts") || rel === path.join("apps", "web", "src", "instrumentation.ts")
  );
}

function walk(dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") && entry.name !== ".") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) walk(full, out);
    } else if (SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(full);
  }
}

interface Workspace {
  name: string;
  dir: string;
  exports: Map<string, string>;
}

function workspaces(): Workspace[] {
  const list: Workspace[] = [];
  for (const group of ["apps", "packages"]) {
    for (const name of readdirSync(path.join(root, group))) {
      const dir = path.join(root, group, name);
      const manifest = path.join(dir, "package.json");
      if (!existsSync(manifest)) continue;
      const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name: string; exports?: unknown };
      const exports = new Map<string, string>();
      if (typeof pkg.exports === "string") exports.set(".", path.join(dir, pkg.exports));
      else if (pkg.exports && typeof pkg.exports === "object") {
        for (const [sub, target] of Object.entries(pkg.exports as Record<string, unknown>)) {
          const file = typeof target === "string" ? target : (target as { default?: string; import?: string }).import;
          if (typeof file === "string") exports.set(sub, path.join(dir, file));
        }
      }
      list.push({ name: pkg.name, dir, exports });
    }
  }
  return list;
}

const packages = workspaces();
const byName = new Map(packages.map((p) => [p.name, p]));

function resolveFile(candidate: string): string | null {
  const tries = [candidate, `${candidate}.ts`, `${candidate}.tsx`, path.join(candidate, "index.ts")];
  if (/\.m?js$/.test(candidate)) tries.push(candidate.replace(/\.m?js$/, ".ts"), candidate.replace(/\.m?js$/, ".tsx"));
  for (const file of tries) if (existsSync(file) && statSync(file).isFile()) return file;
  return null;
}

function resolve(specifier: string, from: string): string | null {
  if (specifier.startsWith(".")) return resolveFile(path.resolve(path.dirname(from), specifier));
  if (specifier.startsWith("~/")) {
    const app = packages.find((p) => from.startsWith(p.dir + path.sep) && existsSync(path.join(p.dir, "src")));
    return app ? resolveFile(path.join(app.dir, "src", specifier.slice(2))) : null;
  }
  const match = /^(@[^/]+\/[^/]+|[^@/][^/]*)(\/.*)?$/.exec(specifier);
  const pkg = match && byName.get(match[1] ?? "");
  if (!pkg) return null;
  const target = pkg.exports.get(match?.[2] ? `.${match[2]}` : ".");
  return target ? resolveFile(target) : null;
}

interface Exported {
  name: string;
  line: number;
  /** An interface or type alias. */
  type: boolean;
}

interface FileFacts {
  exports: Exported[];
  /** Imported names per target file ("*" for all of them). */
  uses: Array<{ target: string; name: string }>;
  /** How often each identifier appears in the file. */
  identifiers: Map<string, number>;
}

function bindingNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((e) => (ts.isOmittedExpression(e) ? [] : bindingNames(e.name)));
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

/** `x.name`, `{ name: 1 }`, `name() {}`: a member's name, not a reference to a binding of that name. */
function isMemberName(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent)) return parent.name === node;
  if (ts.isQualifiedName(parent)) return parent.right === node;
  return (
    (ts.isPropertyAssignment(parent) ||
      ts.isPropertySignature(parent) ||
      ts.isPropertyDeclaration(parent) ||
      ts.isMethodDeclaration(parent) ||
      ts.isMethodSignature(parent) ||
      ts.isGetAccessorDeclaration(parent) ||
      ts.isSetAccessorDeclaration(parent) ||
      ts.isEnumMember(parent)) &&
    parent.name === node
  );
}

function read(file: string): FileFacts {
  const text = readFileSync(file, "utf8");
  const kind = file.endsWith(".tsx") ? ts.ScriptKind.TSX : file.endsWith("js") ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const facts: FileFacts = { exports: [], uses: [], identifiers: new Map() };
  const configFile = /\.config\.(ts|mts|mjs|js)$/.test(file);
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const use = (specifier: string, name: string) => {
    const target = resolve(specifier, file);
    if (target) facts.uses.push({ target, name });
  };

  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      const specifier = statement.moduleSpecifier.text;
      const clause = statement.importClause;
      if (clause?.name) use(specifier, "default");
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) use(specifier, "*");
      else if (bindings) for (const el of bindings.elements) use(specifier, (el.propertyName ?? el.name).text);
    } else if (ts.isExportDeclaration(statement)) {
      const specifier =
        statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)
          ? statement.moduleSpecifier.text
          : null;
      if (!statement.exportClause) {
        if (specifier) use(specifier, "*");
      } else if (ts.isNamespaceExport(statement.exportClause)) {
        if (specifier) use(specifier, "*");
        facts.exports.push({ name: statement.exportClause.name.text, line: lineOf(statement), type: false });
      } else {
        for (const el of statement.exportClause.elements) {
          if (specifier) use(specifier, (el.propertyName ?? el.name).text);
          facts.exports.push({ name: el.name.text, line: lineOf(el), type: statement.isTypeOnly || el.isTypeOnly });
        }
      }
    } else if (ts.isExportAssignment(statement)) {
      facts.exports.push({ name: "default", line: lineOf(statement), type: false });
    } else if (hasModifier(statement, ts.SyntaxKind.ExportKeyword)) {
      const isDefault = hasModifier(statement, ts.SyntaxKind.DefaultKeyword);
      if (ts.isVariableStatement(statement)) {
        for (const d of statement.declarationList.declarations)
          for (const name of bindingNames(d.name)) facts.exports.push({ name, line: lineOf(d), type: false });
      } else {
        const named = statement as ts.Node & { name?: ts.Node };
        const name = isDefault ? "default" : named.name && ts.isIdentifier(named.name) ? named.name.text : null;
        const type = ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement);
        if (name) facts.exports.push({ name, line: lineOf(statement), type });
      }
    }
  }

  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && !isMemberName(node))
      facts.identifiers.set(node.text, (facts.identifiers.get(node.text) ?? 0) + 1);
    if (ts.isCallExpression(node) && node.arguments.length >= 1) {
      const [first] = node.arguments;
      const dynamic =
        node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === "require");
      if (dynamic && first && ts.isStringLiteralLike(first)) use(first.text, "*");
    }
    // A config file names files a tool loads (vitest's globalSetup, setupFiles).
    if (configFile && ts.isStringLiteralLike(node) && /^[\w.][\w./-]*\.(ts|tsx|mts|js|mjs)$/.test(node.text))
      use(node.text.startsWith(".") ? node.text : `./${node.text}`, "*");
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      const qualifier = node.qualifier;
      const first = qualifier ? (ts.isIdentifier(qualifier) ? qualifier : qualifier.left) : null;
      use(node.argument.literal.text, first && ts.isIdentifier(first) ? first.text : "*");
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return facts;
}

function unusedExports(): Array<{ file: string; line: number; name: string; local: boolean }> {
  const files: string[] = [];
  for (const p of packages) walk(p.dir, files);
  for (const dir of TOP_LEVEL) walk(path.join(root, dir), files);
  for (const entry of readdirSync(root)) if (SOURCE.test(entry)) files.push(path.join(root, entry));

  const facts = new Map(files.map((f) => [f, read(f)]));
  const used = new Map<string, Set<string>>();
  for (const [file, f] of facts) {
    for (const { target, name } of f.uses) {
      if (target === file) continue;
      const names = used.get(target) ?? new Set<string>();
      used.set(target, names);
      names.add(name);
    }
  }
  const unused: Array<{ file: string; line: number; name: string; local: boolean }> = [];
  for (const [file, f] of facts) {
    if (isEntryPoint(file)) continue;
    const names = used.get(file);
    if (names?.has("*")) continue;
    for (const e of f.exports) {
      if (names?.has(e.name)) continue;
      const local = e.name !== "default" && (f.identifiers.get(e.name) ?? 0) > 1;
      if (local && e.type) continue;
      unused.push({ file: path.relative(root, file), line: e.line, name: e.name, local });
    }
  }
  return unused.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

const unused = unusedExports();
for (const u of unused) console.log(`${u.file}:${u.line} ${u.name}${u.local ? " (only here)" : ""}`);
if (unused.length) {
  console.error(`${unused.length} unused exports`);
  process.exitCode = 1;
}
