-- addRepeatJob: schedule an iteration of a repeatable job (docs/bull.md §4.9): as Bull's
-- workers do when they take one (only while the repeat entry exists), or a producer's first:
-- move the entry to the iteration's time and add the iteration (a job with its own id).
-- @key wait             queue
-- @key paused           queue
-- @key metaPaused       queue:meta-paused
-- @key id               queue
-- @key delayed          queue
-- @key priority         queue
-- @key repeat           queue
-- @arg prefix           base
-- @arg customId         str     the iteration's id, repeat:<md5>:<nextMillis>
-- @arg name             str
-- @arg data             str     JSON text
-- @arg opts             str     JSON text as Node's JSON.stringify writes it
-- @arg timestamp        str
-- @arg delay            str
-- @arg due              str     timestamp + delay, or "0" when not delayed
-- @arg priority         str     "0" for none
-- @arg pushCmd          str     "LPUSH" | "RPUSH" (lifo)
-- @arg token            str     the worker's token (channel suffix)
-- @arg deid             str     debounce id, or ""
-- @arg deTtl            str     debounce TTL (ms), or "" for none
-- @arg repeatKey        str     the entry in the repeat zset
-- @arg nextMillis       str     the iteration's time (its new score)
-- @arg mustExist        str     "1": only while the entry exists (a worker) | "0" (a producer)
-- Reply: the iteration's id | "" when the repeat entry is gone
--@include add

if ARGV[16] == "1" and not redis.call("ZSCORE", KEYS[7], ARGV[14]) then
  return ""
end
redis.call("ZADD", KEYS[7], ARGV[15], ARGV[14])
return addJobFromArgs()
