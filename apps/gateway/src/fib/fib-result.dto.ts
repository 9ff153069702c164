import { ApiProperty } from '@nestjs/swagger';

/** Body of a 200 answer. */
export class FibResultDto {
  @ApiProperty({ example: 30, description: 'the n asked for' })
  n!: number;

  @ApiProperty({ example: '832040', description: 'fib(n) in decimal; a string because it outgrows any JSON number' })
  value!: string;
}
