// node encode.mjs TOKENIZER_FOLDER INPUTS_JSON -> prints [[ids...], ...]
// Encodes as transformers' tokenizer(text) does by default: special tokens added (BOS, [CLS] … [SEP]).
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";

const [folder, inputs] = process.argv.slice(2);
const read = (name) => JSON.parse(fs.readFileSync(`${folder}/${name}`, "utf8"));
const tokenizer = new Tokenizer(read("tokenizer.json"), read("tokenizer_config.json"));
const texts = JSON.parse(fs.readFileSync(inputs, "utf8"));
console.log(JSON.stringify(texts.map((t) => tokenizer.encode(t, { add_special_tokens: true }).ids)));
