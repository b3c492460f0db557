-- getCounts: job counts per state in one call, as Node Bull's queue.getJobCounts() reads them
-- (docs/bull.md §3); prioritized jobs count as waiting.
-- @key wait             queue
-- @key active           queue
-- @key delayed          queue
-- @key completed        queue
-- @key failed           queue
-- @key paused           queue
-- Reply: [waiting, active, delayed, completed, failed, paused]
return {
  redis.call("LLEN", KEYS[1]), redis.call("LLEN", KEYS[2]), redis.call("ZCARD", KEYS[3]),
  redis.call("ZCARD", KEYS[4]), redis.call("ZCARD", KEYS[5]), redis.call("LLEN", KEYS[6]),
}
