// TEST DOUBLE of actions/download-artifact (see ../README.md): this run's artifacts only.
import * as core from '@actions/core';
import { DefaultArtifactClient } from '@actions/artifact';
import { Minimatch } from 'minimatch';
import os from 'node:os';
import path from 'node:path';

try {
  for (const unsupported of ['artifact-ids', 'github-token', 'repository', 'run-id']) {
    if (core.getInput(unsupported)) throw new Error(`the test double does not support '${unsupported}'`);
  }
  const name = core.getInput('name');
  const pattern = core.getInput('pattern');
  const merge = core.getInput('merge-multiple') === 'true';
  let dest = core.getInput('path') || process.env.GITHUB_WORKSPACE;
  if (dest.startsWith('~')) dest = dest.replace('~', os.homedir());
  dest = path.resolve(process.env.GITHUB_WORKSPACE, dest);
  const client = new DefaultArtifactClient();
  let artifacts;
  if (name) {
    const { artifact } = await client.getArtifact(name);
    if (!artifact) throw new Error(`Artifact '${name}' not found`);
    artifacts = [artifact];
  } else {
    ({ artifacts } = await client.listArtifacts({ latest: true }));
    if (pattern) {
      const m = new Minimatch(pattern);
      artifacts = artifacts.filter((a) => m.match(a.name));
    }
  }
  for (const a of artifacts) {
    const to = name || merge ? dest : path.join(dest, a.name);
    await client.downloadArtifact(a.id, { path: to });
    core.info(`Artifact ${a.name} (id ${a.id}) downloaded to ${to}`);
  }
  core.info(`Total of ${artifacts.length} artifact(s) downloaded`);
  core.setOutput('download-path', dest);
} catch (err) {
  core.setFailed(`Unable to download artifact(s): ${err.message}`);
}
