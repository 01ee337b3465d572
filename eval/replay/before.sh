#!/usr/bin/env bash
# The replay's "before" figures: the release before this one, measured by the same replay.
# Commit 9368269 holds the previous release's judgement (English watchlist rules, word-overlap
# stories, no item kind) with the replay harness added; run from the repository root, with
# ../shared beside it. Prints the two replays; before-<window>.json hold their figures.
set -euo pipefail
root="$(pwd)"
tree="$(mktemp -d)"
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git worktree add -q --detach "$tree" 9368269
printf '[processors]\nuse_model = false\n' > "$tree/before.toml"
cd "$tree"
for stream in news-2022 firehose-2026-01; do
  PYTHONPATH="$tree" "$root/.venv/bin/python" -m peacewatch.cli -c before.toml eval replay \
    --stream "$stream" --shared "$root/../shared"
done
