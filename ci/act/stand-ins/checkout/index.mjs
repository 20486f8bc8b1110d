// TEST DOUBLE of actions/checkout (see ../README.md): git init, fetch and a detached checkout.
import * as core from '@actions/core';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

function git(cwd, ...args) {
  core.info(`[command]git ${args.join(' ')}`);
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

try {
  const workspace = process.env.GITHUB_WORKSPACE;
  const repository = core.getInput('repository') || process.env.GITHUB_REPOSITORY;
  const server = process.env.GITHUB_SERVER_URL || 'https://github.com';
  const url = `${server}/${repository}`;
  const dest = path.resolve(workspace, core.getInput('path') || '.');
  const depth = Number.parseInt(core.getInput('fetch-depth') || '1', 10);
  const target = core.getInput('ref') || process.env.GITHUB_SHA;
  if (!repository || !target) throw new Error('no repository or commit to check out (GITHUB_REPOSITORY, GITHUB_SHA)');

  mkdirSync(dest, { recursive: true });
  if (existsSync(path.join(dest, '.git'))) {
    if (core.getInput('clean') !== 'false') { git(dest, 'clean', '-ffdx'); git(dest, 'reset', '--hard', 'HEAD'); }
  } else {
    git(dest, 'init', '-q');
    git(dest, 'remote', 'add', 'origin', url);
  }
  core.info(`test double of actions/checkout: fetching ${url} (${depth === 0 ? 'full history' : `depth ${depth}`})`);
  const tags = depth === 0 || core.getInput('fetch-tags') === 'true' ? ['--tags'] : ['--no-tags'];
  if (depth > 0) {
    git(dest, 'fetch', '-q', ...tags, `--depth=${depth}`, 'origin', target);
  } else {
    git(dest, 'fetch', '-q', ...tags, 'origin', '+refs/heads/*:refs/remotes/origin/*');
    git(dest, 'fetch', '-q', 'origin', target);
  }
  git(dest, 'checkout', '-q', '--force', '--detach', 'FETCH_HEAD');
  const commit = git(dest, 'rev-parse', 'HEAD');
  core.setOutput('ref', core.getInput('ref') || process.env.GITHUB_REF || '');
  core.setOutput('commit', commit);
  core.info(`checked out ${commit} into ${dest}`);
} catch (err) {
  core.setFailed(`checkout (test double): ${err.message}`);
}
