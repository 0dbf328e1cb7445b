#!/usr/bin/env bash
# Creates deploy/secrets/ for docker-compose.yml: a random password for each MQTT user
# (edge-imprint, homeassistant, enroller) and for the dashboard, and mosquitto's password
# file (hashed) for those users. Nothing is ever overwritten: run it again after deleting a
# file to renew that password. The compose file refuses to start until these files exist,
# so no deployment runs on a password that is public.
set -euo pipefail
cd "$(dirname "$0")"
umask 022
mkdir -p secrets
# Only their owner may list the folder; the files inside are read by the containers' own users.
chmod 700 secrets

random_password() {
  # 32 characters of [A-Za-z0-9] from 48 random bytes: about 190 bits. (cut reads all its
  # input, so nothing in the pipe dies of SIGPIPE under pipefail.)
  head -c 48 /dev/urandom | base64 | LC_ALL=C tr -dc 'A-Za-z0-9' | cut -c1-32
}

for name in mqtt_password homeassistant_password enroller_password dashboard_password; do
  if [ ! -s "secrets/${name}" ]; then
    random_password >"secrets/${name}"
    echo "created deploy/secrets/${name}"
  fi
done

passwd_file=secrets/mosquitto_passwd
if [ ! -s "${passwd_file}" ]; then
  tmp="$(mktemp secrets/.passwd.XXXXXX)"
  printf 'edge-imprint:%s\nhomeassistant:%s\nenroller:%s\n' \
    "$(cat secrets/mqtt_password)" "$(cat secrets/homeassistant_password)" "$(cat secrets/enroller_password)" >"${tmp}"
  if command -v mosquitto_passwd >/dev/null 2>&1; then
    mosquitto_passwd -U "${tmp}"
  else
    # No mosquitto on the host: hash with the broker's own image.
    docker run --rm -v "$(pwd)/secrets:/secrets" eclipse-mosquitto:2 mosquitto_passwd -U "/secrets/$(basename "${tmp}")"
  fi
  chmod 644 "${tmp}"
  mv "${tmp}" "${passwd_file}"
  echo "created deploy/${passwd_file} (users edge-imprint, homeassistant, enroller)"
fi
echo "Home Assistant's MQTT login: user homeassistant, password in deploy/secrets/homeassistant_password"
