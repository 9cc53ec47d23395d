export { bareEtag, type ObjectStore, type FetchOptions, type FetchedObject } from './object-store';
export { S3ObjectStore, createS3Client, type S3StoreConfig } from './s3-object-store';
export { mapS3Error } from './map-s3-error';
