-- addJob: store a new job and make it waiting, paused or delayed as Bull's Queue.add does
-- (docs/bull.md §3). Every call counts in the id counter, even for a custom or a duplicate id.
-- @key wait             queue
-- @key paused           queue
-- @key metaPaused       queue:meta-paused
-- @key id               queue
-- @key delayed          queue
-- @key priority         queue
-- @arg prefix           base
-- @arg customId         str     the caller's id, or "" for the next counter value
-- @arg name             str
-- @arg data             str     JSON text
-- @arg opts             str     JSON text as Node's JSON.stringify writes it
-- @arg timestamp        str
-- @arg delay            str
-- @arg due              str     timestamp + delay, or "0" when not delayed
-- @arg priority         str     "0" for none
-- @arg pushCmd          str     "LPUSH" | "RPUSH" (lifo)
-- @arg token            str     the producer's token (channel suffix)
-- @arg deid             str     debounce id, or ""
-- @arg deTtl            str     debounce TTL (ms), or "" for none
-- Reply: the job id (the existing one for a duplicate custom id)
--@include add

return addJob(
  { wait = KEYS[1], paused = KEYS[2], metaPaused = KEYS[3], id = KEYS[4], delayed = KEYS[5],
    priority = KEYS[6] },
  { base = ARGV[1], customId = ARGV[2], name = ARGV[3], data = ARGV[4], opts = ARGV[5],
    timestamp = ARGV[6], delay = ARGV[7], due = ARGV[8], priority = ARGV[9],
    pushCmd = ARGV[10], token = ARGV[11], deid = ARGV[12], deTtl = ARGV[13] })
