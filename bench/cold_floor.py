"""The floor of the cold path: what a send must cost from process start, with no framework.

`bench.cold_start` runs this file as a fresh process (`python -P bench/cold_floor.py CONFIG`)
against the local stack's moto server (AWS_ENDPOINT_URL, fake credentials, as the stack gives
its function containers) and its capture SMTP server, and times it from spawn to the `done`
line. It makes the calls a send needs, one each: DynamoDB GetItem for the service, the API
key and its role, Secrets Manager GetSecretValue for the admin key, a PutItem for the message
record, and one smtplib transaction. Nothing of the project is imported; nothing else is.
"""

import json
import sys
import uuid


def main(argv: list[str]) -> None:
    import smtplib

    import boto3

    config = json.loads(argv[0])
    tables = config["tables"]
    dynamodb = boto3.client("dynamodb")
    secrets = boto3.client("secretsmanager")
    dynamodb.get_item(TableName=tables["services"], Key={"name": {"S": config["service"]}})
    dynamodb.get_item(TableName=tables["api_keys"], Key={"id": {"S": config["key_id"]}})
    dynamodb.get_item(TableName=tables["roles"], Key={"name": {"S": config["role"]}})
    secrets.get_secret_value(SecretId=config["secret_id"])
    record_id = uuid.uuid4().hex
    dynamodb.put_item(
        TableName=tables["messages"],
        Item={"id": {"S": record_id}, "status": {"S": "sending"}, "service": {"S": "email"}},
    )
    with smtplib.SMTP("127.0.0.1", config["smtp_port"], timeout=30) as smtp:
        smtp.sendmail(config["sender"], config["recipients"], config["message"].encode())
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
