-- updateProgress: store a running job's progress and announce it (docs/bull.md §4.8).
-- @key jobKey           key     the job's hash
-- @key progress         queue   also the channel Node listens on
-- @arg progress         str     JSON text
-- @arg event            str     {"jobId":"<id>","progress":<progress>}
-- Reply: 0 | -1 no such job
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
redis.call("HSET", KEYS[1], "progress", ARGV[1])
redis.call("PUBLISH", KEYS[2], ARGV[2])
return 0
