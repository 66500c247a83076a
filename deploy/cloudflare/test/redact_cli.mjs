// node test/redact_cli.mjs IN.json OUT.json: redacts each string of the JSON array in IN.json with
// the Worker's redactor and writes the results, in order, to OUT.json. tests/process/worker_test.cpp
// compares them with casebus-edge's redactor (common::redact).
import { readFileSync, writeFileSync } from "node:fs";
import { redactText } from "../src/redact.js";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node redact_cli.mjs IN.json OUT.json");
  process.exit(2);
}
const texts = JSON.parse(readFileSync(input, "utf8"));
writeFileSync(output, JSON.stringify(texts.map(redactText)));
