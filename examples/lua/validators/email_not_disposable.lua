-- email_not_disposable: rejects e-mail addresses at disposable (throw-away)
-- domains, and their subdomains.
--
-- Input: a record with an `email` field, or the address itself as a string.
-- Config (validatorConfig in a VALIDATION step, all optional):
--   domains   more disposable domains, added to the list below
--   allow     domains to accept even though they are on the list
--
-- A record without an e-mail address is accepted: pair this validator with
-- a "required,email" rule when the address is mandatory.
local config = ctx.config or {}
local disposable = {}
for _, d in ipairs({
  "mailinator.com", "guerrillamail.com", "10minutemail.com", "tempmail.com",
  "temp-mail.org", "yopmail.com", "trashmail.com", "sharklasers.com",
  "getnada.com", "dispostable.com", "maildrop.cc", "throwawaymail.com",
}) do
  disposable[d] = true
end
for _, d in ipairs(config.domains or {}) do
  disposable[string.lower(d)] = true
end
for _, d in ipairs(config.allow or {}) do
  disposable[string.lower(d)] = nil
end

local email, path = input, ""
if type(input) == "table" then
  email, path = input.email, "email"
end
if email == nil or email == json.null or email == "" then
  return true
end
if type(email) ~= "string" then
  return {{path = path, message = "must be a string, got " .. type(email)}}
end

local domain = string.match(string.lower(email), "@([^@]+)$")
if not domain then
  return {{path = path, message = string.format("%q is not an e-mail address", email)}}
end
-- mail.mailinator.com is as disposable as mailinator.com.
local d = domain
while d do
  if disposable[d] then
    return {{path = path, message = domain .. " is a disposable e-mail domain"}}
  end
  d = string.match(d, "^[^.]+%.(.+)$")
end
return true
