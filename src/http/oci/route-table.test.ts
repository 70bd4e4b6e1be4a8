import { describe, expect, it } from 'vitest';
import { matchRoute } from './route-table.js';

describe('the /v2/ route table', () => {
  it('names the ECR action each call is authorized as', () => {
    const cases: [string, string, string | null][] = [
      ['GET', '/v2/', null],
      ['GET', '/v2/_catalog', 'ecr:DescribeRepositories'],
      ['POST', '/v2/team/app/blobs/uploads/', 'ecr:InitiateLayerUpload'],
      ['PATCH', '/v2/team/app/blobs/uploads/0b5c', 'ecr:UploadLayerPart'],
      ['PUT', '/v2/team/app/blobs/uploads/0b5c', 'ecr:CompleteLayerUpload'],
      ['GET', '/v2/team/app/blobs/sha256:ab', 'ecr:GetDownloadUrlForLayer'],
      ['HEAD', '/v2/team/app/blobs/sha256:ab', 'ecr:BatchCheckLayerAvailability'],
      ['GET', '/v2/team/app/manifests/v1', 'ecr:BatchGetImage'],
      ['PUT', '/v2/team/app/manifests/v1', 'ecr:PutImage'],
      ['DELETE', '/v2/team/app/manifests/v1', 'ecr:BatchDeleteImage'],
      ['GET', '/v2/team/app/tags/list', 'ecr:ListImages'],
      ['GET', '/v2/team/app/referrers/sha256:ab', 'ecr:BatchGetImage'],
    ];
    for (const [method, path, action] of cases) {
      const r = matchRoute(method, path);
      expect(r?.methodAllowed, `${method} ${path}`).toBe(true);
      expect(r?.action, `${method} ${path}`).toBe(action);
    }
    expect(matchRoute('GET', '/v2/team/app/blobs/uploads/0b5c')?.name).toBe('team/app');
    expect(matchRoute('PATCH', '/v2/team/app/manifests/v1')?.methodAllowed).toBe(false);
    expect(matchRoute('GET', '/v3/x')).toBeNull();
  });
});
