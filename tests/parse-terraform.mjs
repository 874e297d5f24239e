// Parses every .tf and .tfvars file of a folder with @cdktf/hcl2json (the terraform CLI can't be
// installed here) and prints {"file name": <its JSON form>, ...}. A file that doesn't parse ends the
// script with exit code 1 and the parser's message on stderr.
//   node tests/parse-terraform.mjs terraform
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import hcl2json from "@cdktf/hcl2json";

const folder = process.argv[2];
if (!folder) {
  console.error("usage: node tests/parse-terraform.mjs FOLDER");
  process.exit(2);
}

const files = readdirSync(folder).filter((name) => name.endsWith(".tf") || name.endsWith(".tfvars")).sort();
const parsed = {};
for (const name of files) {
  try {
    parsed[name] = await hcl2json.parse(name, readFileSync(join(folder, name), "utf8"));
  } catch (error) {
    console.error(`${join(folder, name)}: ${error.message ?? error}`);
    process.exit(1);
  }
}
process.stdout.write(JSON.stringify(parsed));
