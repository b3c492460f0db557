-- removeJob: a job and everything of it removed, as Node Bull's job.remove() (docs/bull.md
-- §6), refused while any lock is on it: its id leaves every state, its debounce key (when it
-- owns one) and its hash and logs are deleted, and it leaves the rate limiter's put-off set.
-- Nothing is published.
-- @key active           queue
-- @key wait             queue
-- @key delayed          queue
-- @key paused           queue
-- @key completed        queue
-- @key failed           queue
-- @key priority         queue
-- @key jobKey           key     the job's hash
-- @key limiterIndex     queue:limiter:index
-- @arg prefix           base
-- @arg jobId            str
-- Reply: 1 removed | 0 locked | -1 no job
--@include remove

local jobKey, jobId = KEYS[8], ARGV[2]
if redis.call("EXISTS", jobKey) == 0 then
  return -1
end
if redis.call("EXISTS", jobKey .. ":lock") == 1 then
  return 0
end
for _, list in ipairs({ KEYS[1], KEYS[2], KEYS[4] }) do
  redis.call("LREM", list, 0, jobId)
end
for _, set in ipairs({ KEYS[3], KEYS[5], KEYS[6], KEYS[7] }) do
  redis.call("ZREM", set, jobId)
end
removeJobData(ARGV[1], jobKey, jobId, KEYS[9], true)
return 1
