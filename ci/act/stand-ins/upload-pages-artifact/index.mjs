// TEST DOUBLE of actions/upload-pages-artifact (see ../README.md): the site directory as one
// tar file (symlinks dereferenced, .git and .github left out), uploaded as an artifact.
import * as core from '@actions/core';
import { DefaultArtifactClient } from '@actions/artifact';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

try {
  const site = path.resolve(process.env.GITHUB_WORKSPACE, core.getInput('path') || '_site/');
  const tmp = process.env.RUNNER_TEMP;
  const tarball = path.join(tmp, 'artifact.tar');
  execFileSync('tar', ['--dereference', '--hard-dereference', '--directory', site, '-cf', tarball,
    '--exclude=.git', '--exclude=.github', '.'], { stdio: 'inherit' });
  const name = core.getInput('name') || 'github-pages';
  const days = Number.parseInt(core.getInput('retention-days') || '1', 10);
  const res = await new DefaultArtifactClient().uploadArtifact(name, [tarball], tmp, { retentionDays: days });
  core.info(`Pages artifact ${name} (${site}) uploaded, id ${res.id}`);
  core.setOutput('artifact_id', res.id);
} catch (err) {
  core.setFailed(err.message);
}
