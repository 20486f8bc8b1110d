// TEST DOUBLE of actions/upload-artifact (see ../README.md). Finds the files as the real action
// does (@actions/glob; the root is the search paths' common ancestor, or a lone file's directory;
// hidden files left out unless asked), then uploads them with @actions/artifact.
import * as core from '@actions/core';
import * as glob from '@actions/glob';
import { DefaultArtifactClient } from '@actions/artifact';
import { statSync } from 'node:fs';
import path from 'node:path';

function commonAncestor(paths) {
  const split = paths.map((p) => path.resolve(p).split(path.sep));
  const first = split[0];
  let n = first.length;
  for (const s of split.slice(1)) {
    let i = 0;
    while (i < n && i < s.length && s[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join(path.sep) || path.sep;
}

try {
  const name = core.getInput('name') || 'artifact';
  const patterns = core.getInput('path', { required: true });
  const ifNone = core.getInput('if-no-files-found') || 'warn';
  const includeHidden = core.getInput('include-hidden-files') === 'true';
  const globber = await glob.create(patterns, {
    followSymbolicLinks: true, implicitDescendants: true, omitBrokenSymbolicLinks: true,
    excludeHiddenFiles: !includeHidden,
  });
  const found = await globber.glob();
  const files = found.filter((f) => statSync(f).isFile());
  const searchPaths = globber.getSearchPaths();
  let root;
  if (searchPaths.length > 1) root = commonAncestor(searchPaths);
  else if (found.length === 1 && found[0] === searchPaths[0]) root = path.dirname(found[0]);
  else root = searchPaths[0];

  if (files.length === 0) {
    const msg = `No files were found with the provided path: ${patterns}. No artifacts will be uploaded.`;
    if (ifNone === 'error') throw new Error(msg);
    if (ifNone === 'warn') core.warning(msg); else core.info(msg);
  } else {
    core.info(`With the provided path, there will be ${files.length} file(s) uploaded (root ${root})`);
    const client = new DefaultArtifactClient();
    if (core.getInput('overwrite') === 'true') {
      try { await client.deleteArtifact(name); core.info(`Artifact '${name}' deleted`); } catch { /* none yet */ }
    }
    const options = { compressionLevel: Number.parseInt(core.getInput('compression-level') || '6', 10) };
    const days = Number.parseInt(core.getInput('retention-days') || '0', 10);
    if (days > 0) options.retentionDays = days;
    const res = await client.uploadArtifact(name, files, root, options);
    core.info(`Artifact ${name} has been successfully uploaded! Final size is ${res.size} bytes. Artifact ID is ${res.id}`);
    core.setOutput('artifact-id', res.id);
    core.setOutput('artifact-digest', res.digest || '');
    core.setOutput('artifact-url', `${process.env.GITHUB_SERVER_URL}/${process.env.GITHUB_REPOSITORY}/actions/runs/${process.env.GITHUB_RUN_ID}/artifacts/${res.id}`);
  }
} catch (err) {
  core.setFailed(err.message);
}
