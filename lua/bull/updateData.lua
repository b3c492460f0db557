-- updateData: replace a job's data (docs/bull.md §4.8); nothing is published.
-- @key jobKey           key     the job's hash
-- @arg data             str     JSON text
-- Reply: 0 | -1 no such job
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
redis.call("HSET", KEYS[1], "data", ARGV[1])
return 0
