/** Registers the registry commands (`repos`, `images`) that talk to a running Berth over its ECR API. */
import type { Command } from 'commander';
import { commandGroup } from './client.js';
import { imagesDeleteCommand } from './images-delete.js';
import { imagesListCommand } from './images-list.js';
import { reposCreateCommand } from './repos-create.js';
import { reposDeleteCommand } from './repos-delete.js';
import { reposListCommand } from './repos-list.js';
import { lifecyclePreviewCommand } from './lifecycle-preview.js';
import { usageCommand } from './usage.js';

/** addCommand does not inherit settings; the leaves need the group's exit override (usage errors exit 2). */
function add(group: Command, sub: Command): void {
  group.addCommand(sub.copyInheritedSettings(group));
}

export function registerRegistryCommands(program: Command): void {
  const repos = commandGroup(program, 'repos', 'manage repositories of a running Berth (ECR API)');
  add(repos, reposCreateCommand());
  add(repos, reposListCommand());
  add(repos, reposDeleteCommand());

  const images = commandGroup(program, 'images', 'list and delete images of a running Berth (ECR API)');
  add(images, imagesListCommand());
  add(images, imagesDeleteCommand());

  const lifecycle = commandGroup(program, 'lifecycle', 'lifecycle policies of a running Berth (ECR API)');
  add(lifecycle, lifecyclePreviewCommand());

  program.addCommand(usageCommand());
}
