/**
 * A real S3/SQS/SNS emulator (fauxqs) started in-process on a free loopback port, and real AWS SDK
 * v3 clients pointed at it over HTTP. Use with `await using env = await startAws()`.
 */
import { startFauxqs } from 'fauxqs';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { SQSClient, CreateQueueCommand } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';

export const TEST_REGION = 'us-east-1';
export const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface AwsEnv extends AsyncDisposable {
  readonly endpoint: string;
  readonly region: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly server: Awaited<ReturnType<typeof startFauxqs>>;
  createBucket(name: string): Promise<string>;
  createQueue(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startAws(): Promise<AwsEnv> {
  // `host` only names queue URLs (sqs.<region>.localhost:<port>); requests go to the loopback endpoint.
  const server = await startFauxqs({ port: 0, host: 'localhost', logger: false });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const common = { endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS } as const;
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const sqs = new SQSClient(common);
  const sns = new SNSClient(common);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    s3.destroy();
    sqs.destroy();
    sns.destroy();
    await server.stop();
  };
  return {
    endpoint,
    region: TEST_REGION,
    s3,
    sqs,
    sns,
    server,
    async createBucket(name) {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async createQueue(name) {
      const out = await sqs.send(new CreateQueueCommand({ QueueName: name }));
      if (!out.QueueUrl) throw new Error(`fauxqs returned no QueueUrl for ${name}`);
      return out.QueueUrl;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
