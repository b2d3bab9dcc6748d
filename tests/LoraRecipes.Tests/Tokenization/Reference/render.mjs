// node render.mjs TOKENIZER_FOLDER CASES_JSON -> prints [{"text": ..., "ids": [...]} | {"error": ...}, ...]
// Renders the folder's tokenizer_config.json chat_template with Hugging Face's own JS Jinja (@huggingface/jinja,
// which sets trim_blocks and lstrip_blocks as transformers does) for each case's variables, then encodes the text
// as apply_chat_template(tokenize=True) does: tokenizer(text, add_special_tokens=False).
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";

const [folder, casesFile] = process.argv.slice(2);
const read = (name) => JSON.parse(fs.readFileSync(`${folder}/${name}`, "utf8"));
const config = read("tokenizer_config.json");
const tokenizer = new Tokenizer(read("tokenizer.json"), config);
const template = new Template(config.chat_template);
const cases = JSON.parse(fs.readFileSync(casesFile, "utf8"));
const results = cases.map((variables) => {
  try {
    const text = template.render(variables);
    return { text, ids: tokenizer.encode(text, { add_special_tokens: false }).ids };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
});
console.log(JSON.stringify(results));
