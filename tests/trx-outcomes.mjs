// What the .trx files of a test run say.
//
//   node tests/trx-outcomes.mjs summary DIR   "N passed, N failed[, N skipped]" from the counters of
//                                             DIR/*.trx; where DIR/rerun/*.trx ran a test again that
//                                             failed, its outcome there replaces the first one
//   node tests/trx-outcomes.mjs failed DIR    the tests that did not pass in DIR/*.trx, one line each:
//                                             "ASSEMBLY<tab>Namespace.Class.Method" (a theory once);
//                                             exits 3 when the counters count a failure that no
//                                             test's result names (a test host that crashed)
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const FAILED = new Set(["Failed", "Error", "Timeout", "Aborted"]);

function attributes(tag) {
  const values = {};
  for (const [, name, value] of tag.matchAll(/(\w+)="([^"]*)"/g)) {
    values[name] = value;
  }
  return values;
}

function read(file) {
  const text = readFileSync(file, "utf8");
  const counters = attributes(text.match(/<Counters [^>]*>/)?.[0] ?? "");
  const count = (name) => Number(counters[name] ?? 0);
  const methods = new Map(); // test id -> { assembly, method }
  for (const [, head, body] of text.matchAll(/<UnitTest ([^>]*)>([\s\S]*?)<\/UnitTest>/g)) {
    const test = attributes(head);
    const method = attributes(body.match(/<TestMethod [^>]*>/)?.[0] ?? "");
    methods.set(test.id, { assembly: method.codeBase, method: `${method.className}.${method.name}` });
  }
  const results = [...text.matchAll(/<UnitTestResult [^>]*>/g)].map((m) => {
    const result = attributes(m[0]);
    return { name: result.testName, outcome: result.outcome, ...methods.get(result.testId) };
  });
  return {
    passed: count("passed"),
    failed: count("failed") + count("error") + count("timeout") + count("aborted"),
    skipped: count("notExecuted"),
    results,
  };
}

function runs(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".trx"))
    .map((f) => read(join(dir, f)));
}

const [command, dir] = process.argv.slice(2);
if (!dir || !["summary", "failed"].includes(command)) {
  console.error("usage: node tests/trx-outcomes.mjs summary|failed DIR");
  process.exit(2);
}
const first = runs(dir);

if (command === "failed") {
  const lines = new Set();
  let counted = 0, named = 0;
  for (const run of first) {
    counted += run.failed;
    for (const r of run.results) {
      if (FAILED.has(r.outcome) && r.assembly) {
        named += 1;
        lines.add(`${r.assembly}\t${r.method}`);
      }
    }
  }
  for (const line of lines) console.log(line);
  if (counted !== named) {
    console.error(`${counted} failures counted, ${named} named by a test's result`);
    process.exit(3);
  }
} else {
  let passed = 0, failed = 0, skipped = 0;
  const failedFirst = new Set();
  for (const run of first) {
    passed += run.passed;
    failed += run.failed;
    skipped += run.skipped;
    for (const r of run.results) if (FAILED.has(r.outcome)) failedFirst.add(r.name);
  }
  const again = new Map();
  for (const run of runs(join(dir, "rerun"))) {
    for (const r of run.results) if (failedFirst.has(r.name)) again.set(r.name, r.outcome);
  }
  for (const outcome of again.values()) {
    failed -= 1;
    if (outcome === "Passed") passed += 1;
    else if (FAILED.has(outcome)) failed += 1;
    else skipped += 1;
  }
  console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`);
}
