#!/usr/bin/env bash
# git_work.sh DIR - a git workload for scripts/libc_preload.sh.
#
# Why: git is a large C program that allocates heavily (object database,
# index, diff and delta machinery) and runs several threads while packing
# (git gc: delta search and zlib). This script makes a repository in DIR
# (which must not exist), commits a few hundred generated files in four
# commits (adds, edits, deletions, renames), then runs gc, fsck, log, diff,
# blame and archive, and prints only what is deterministic: commit hashes
# are fixed because author, committer, dates and config are fixed, and
# no pack sizes are printed (the threaded delta search may pick other
# deltas from run to run). Run once under glibc's malloc and once under
# the replacement (bash, the file generation, included); the outputs must
# be identical.
set -euo pipefail
dir=$1
mkdir "$dir"
cd "$dir"

export HOME=$dir/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Preload Test" GIT_AUTHOR_EMAIL="preload@example.invalid"
export GIT_COMMITTER_NAME="Preload Test" GIT_COMMITTER_EMAIL="preload@example.invalid"
export TZ=UTC LC_ALL=C
mkdir -p "$HOME"

commit() { # commit N MESSAGE: a commit at a fixed date
    local when="2020-01-0$1T12:00:00+0000"
    GIT_AUTHOR_DATE=$when GIT_COMMITTER_DATE=$when git commit -q -m "$2"
}

# Deterministic file contents: line j of file i.
gen_file() {
    local i=$1 version=$2 lines=$((20 + $1 % 60)) j
    for ((j = 0; j < lines; j++)); do
        echo "file $i line $j version $version value $(((i * 7919 + j * 104729 + version * 31) % 1000003))"
    done
}

git init -q -b main repo
cd repo
git config core.autocrlf false
git config gc.auto 0
for ((i = 0; i < 300; i++)); do
    mkdir -p "dir$((i % 12))"
    gen_file "$i" 1 >"dir$((i % 12))/file$i.txt"
done
git add -A
commit 1 "add 300 files"

for ((i = 0; i < 300; i += 3)); do gen_file "$i" 2 >"dir$((i % 12))/file$i.txt"; done
git add -A
commit 2 "edit every third file"

for ((i = 1; i < 300; i += 10)); do git rm -q "dir$((i % 12))/file$i.txt"; done
for ((i = 2; i < 300; i += 25)); do git mv "dir$((i % 12))/file$i.txt" "dir$((i % 12))/renamed$i.txt"; done
for ((i = 300; i < 360; i++)); do
    mkdir -p "new$((i % 5))"
    gen_file "$i" 3 >"new$((i % 5))/file$i.txt"
done
git add -A
commit 3 "delete, rename and add files"

for ((i = 0; i < 360; i += 7)); do
    f=$(git ls-files "*/file$i.txt" | head -n 1)
    if [ -n "$f" ]; then gen_file "$i" 4 >>"$f"; fi
done
git add -A
commit 4 "append to every seventh file"

echo "== log"
git log --format='%H %an %ad %s' --date=iso
echo "== diff --stat HEAD~1"
git diff --stat HEAD~1
echo "== diff -M --name-status HEAD~2 HEAD~1"
git diff -M --name-status HEAD~2 HEAD~1
echo "== gc and fsck"
git gc -q --aggressive
git fsck --full --strict
git count-objects -v | grep -E '^(count|in-pack):'
echo "== log -p | sha256sum"
git log -p --format='%H' | sha256sum
echo "== blame"
git blame -s dir0/file0.txt | tail -n 3
echo "== archive | sha256sum"
git archive --format=tar HEAD | sha256sum
echo "== grep"
git grep -c 'version 4' | tail -n 5
