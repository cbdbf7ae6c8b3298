"""A paho-mqtt subscriber for the interop test (tests/mqtt.rs).

Usage: paho_sub.py HOST PORT FILTER COUNT TIMEOUT_S
Prints READY once subscribed, then one JSON line {"topic", "payload"} per
message; exits 0 after COUNT messages, 2 on timeout, 3 without paho-mqtt.
"""
import json
import sys
import time

try:
    import paho.mqtt.client as mqtt
except ImportError:
    print("ERROR: python module paho-mqtt is not installed: run scripts/install-deps "
          "(python3 -m pip install paho-mqtt)", flush=True)
    sys.exit(3)

host, port, topic = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count, timeout = int(sys.argv[4]), float(sys.argv[5])
got = 0


def on_connect(client, userdata, flags, reason_code, properties):
    client.subscribe(topic, qos=1)


def on_subscribe(client, userdata, mid, reason_codes, properties):
    print("READY", flush=True)


def on_message(client, userdata, msg):
    global got
    print(json.dumps({"topic": msg.topic, "payload": json.loads(msg.payload)}), flush=True)
    got += 1
    if got >= count:
        client.disconnect()


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hivemind-paho-test")
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(host, port)
deadline = time.monotonic() + timeout
while got < count and time.monotonic() < deadline:
    client.loop(timeout=0.1)
if got < count:
    print(f"TIMEOUT after {got} of {count} messages", flush=True)
    sys.exit(2)
