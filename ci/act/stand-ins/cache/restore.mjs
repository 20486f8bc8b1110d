// TEST DOUBLE of actions/cache's restore (main of actions/cache and of actions/cache/restore):
// @actions/cache's restoreCache against the cache server act runs (ACTIONS_CACHE_URL).
import * as core from '@actions/core';
import * as cache from '@actions/cache';

try {
  const paths = core.getMultilineInput('path', { required: true });
  const key = core.getInput('key', { required: true });
  const restoreKeys = core.getMultilineInput('restore-keys');
  const crossOs = core.getInput('enableCrossOsArchive') === 'true';
  const lookupOnly = core.getInput('lookup-only') === 'true';
  core.saveState('CACHE_KEY', key);
  core.setOutput('cache-primary-key', key);
  const matched = await cache.restoreCache(paths, key, restoreKeys, { lookupOnly }, crossOs);
  if (!matched) {
    core.setOutput('cache-hit', 'false');
    const msg = `Cache not found for input keys: ${[key, ...restoreKeys].join(', ')}`;
    if (core.getInput('fail-on-cache-miss') === 'true') throw new Error(`Failed to restore cache entry. Exiting as fail-on-cache-miss is set. ${msg}`);
    core.info(msg);
  } else {
    core.saveState('CACHE_RESULT', matched);
    core.setOutput('cache-hit', String(matched === key));
    core.setOutput('cache-matched-key', matched);
    core.info(`Cache ${lookupOnly ? 'found' : 'restored'} from key: ${matched}`);
  }
} catch (err) {
  core.setFailed(err.message);
}
