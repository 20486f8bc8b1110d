// TEST DOUBLE of actions/deploy-pages (see ../README.md): no Pages API, no OIDC token. It
// downloads the run's Pages artifact, checks it is a tar holding files, and deploys nothing.
import * as core from '@actions/core';
import { DefaultArtifactClient } from '@actions/artifact';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';

try {
  const name = core.getInput('artifact_name') || 'github-pages';
  const client = new DefaultArtifactClient();
  const { artifacts } = await client.listArtifacts({ latest: true });
  const artifact = artifacts.find((a) => a.name === name);
  if (!artifact) throw new Error(`No uploaded artifact named ${name} was found in this run`);
  const dir = mkdtempSync(path.join(process.env.RUNNER_TEMP, 'pages-'));
  await client.downloadArtifact(artifact.id, { path: dir });
  const listing = execFileSync('tar', ['-tf', path.join(dir, 'artifact.tar')], { encoding: 'utf8' });
  const files = listing.split('\n').filter((l) => l && !l.endsWith('/'));
  if (files.length === 0) throw new Error(`the ${name} artifact holds no file`);
  const [owner, repo] = (process.env.GITHUB_REPOSITORY || 'owner/repo').split('/');
  const url = `https://${owner}.github.io/${repo}/`;
  core.info(`test double of actions/deploy-pages: ${files.length} file(s) (${files.slice(0, 5).join(', ')}) would be published at ${url}; nothing deployed`);
  core.setOutput('page_url', url);
} catch (err) {
  core.setFailed(err.message);
}
