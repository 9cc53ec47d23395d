/**
 * The one scrubber of secrets in text: error messages, log lines, verdict error messages and
 * failed reasons all pass through it.
 */

const REDACTED = '[Redacted]';

// Presigned URLs carry a live credential in their query string.
const PRESIGNED = /([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId)=)[^&\s"']+/gi;
// Credentials in connection URLs: everything between `scheme://` and the last `@` of the token, so
// that passwords holding `@`, `/` or `:` are masked whole.
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s"'<>]*@/gi;
// SigV4 Authorization headers: `Credential=AKIA…/date/region/s3/aws4_request, …, Signature=hex`.
const SIGV4 = /\b(Credential|Signature)=[^,&\s"']+/g;
// AWS access key ids wherever they appear on their own.
const ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;

/** Removes URL passwords, presigned-URL signatures, SigV4 credentials and AWS key ids. */
export function scrubSecrets(text: string): string {
  return text
    .replace(PRESIGNED, `$1${REDACTED}`)
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(SIGV4, `$1=${REDACTED}`)
    .replace(ACCESS_KEY_ID, REDACTED);
}
