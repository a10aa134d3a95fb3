import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { CreateTopicCommand } from '@aws-sdk/client-sns';
import { startAws } from '../helpers/fauxqs.ts';
import { createAwsClients, SDK_MAX_ATTEMPTS } from '../../src/aws/clients.ts';

// The default credential chain reads these: nothing custom in createAwsClients.
process.env['AWS_ACCESS_KEY_ID'] = 'test';
process.env['AWS_SECRET_ACCESS_KEY'] = 'test';
delete process.env['AWS_PROFILE'];

test('with an endpoint, all three clients talk to it (S3 path-style) via the default credential chain', async () => {
  await using aws = await startAws();
  await aws.createBucket('hoist-clients');
  const queueUrl = await aws.createQueue('hoist-clients');
  const clients = createAwsClients({ region: 'us-east-1', endpoint: aws.endpoint });
  try {
    assert.equal(clients.s3.config.forcePathStyle, true);
    assert.equal(await clients.s3.config.maxAttempts(), SDK_MAX_ATTEMPTS);
    assert.equal(await clients.s3.config.region(), 'us-east-1');
    await clients.s3.send(new PutObjectCommand({ Bucket: 'hoist-clients', Key: 'x', Body: 'hi' }));
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: 'hoist-clients', Key: 'x' }));
    assert.equal(await got.Body?.transformToString(), 'hi');
    const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: 'hoist-clients' }));
    assert.equal(QueueUrl, queueUrl);
    const topic = await clients.sns.send(new CreateTopicCommand({ Name: 'hoist-clients' }));
    assert.match(topic.TopicArn ?? '', /hoist-clients$/);
  } finally {
    clients.destroy();
    clients.destroy(); // idempotent
  }
});

test('without an endpoint: AWS defaults, virtual-hosted S3, region from the SDK resolution', async () => {
  process.env['AWS_REGION'] = 'eu-west-3';
  const clients = createAwsClients({ endpoint: null });
  try {
    assert.equal(clients.s3.config.forcePathStyle, false);
    assert.equal(await clients.s3.config.region(), 'eu-west-3');
    assert.equal(await clients.sqs.config.region(), 'eu-west-3');
    assert.equal(clients.s3.config.endpoint, undefined);
  } finally {
    clients.destroy();
    delete process.env['AWS_REGION'];
  }
  const explicit = createAwsClients({ region: 'ap-south-1' });
  try {
    assert.equal(await explicit.sns.config.region(), 'ap-south-1');
  } finally {
    explicit.destroy();
  }
});
