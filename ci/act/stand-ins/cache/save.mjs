// TEST DOUBLE of actions/cache's save (post of actions/cache, main of actions/cache/save):
// @actions/cache's saveCache against the cache server act runs. Like the real action, a
// failure to save is a warning, never a failed step.
import * as core from '@actions/core';
import * as cache from '@actions/cache';

const post = core.getState('CACHE_KEY') !== '';  // the restore step of actions/cache ran
try {
  const key = post ? core.getState('CACHE_KEY') : core.getInput('key', { required: true });
  if (post && core.getState('CACHE_RESULT') === key) {
    core.info(`Cache hit occurred on the primary key ${key}, not saving cache.`);
  } else {
    const paths = core.getMultilineInput('path', { required: true });
    const id = await cache.saveCache(paths, key, {}, core.getInput('enableCrossOsArchive') === 'true');
    if (id !== -1) core.info(`Cache saved with key: ${key}`);
  }
} catch (err) {
  core.warning(err.message);
}
