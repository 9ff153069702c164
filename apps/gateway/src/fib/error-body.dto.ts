import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Nest's error body shape, as every non-200 answer of /fib has it. */
export class ErrorBodyDto {
  @ApiProperty({ example: 503 })
  statusCode!: number;

  @ApiProperty({ example: 'Service Unavailable' })
  error!: string;

  @ApiProperty({ example: 'no worker is consuming rpc_queue' })
  message!: string;

  @ApiPropertyOptional({
    example: 'NO_WORKER',
    description:
      'RPC failure: TIMEOUT, REMOTE, NO_WORKER, BROKER_UNAVAILABLE, CONNECTION_LOST, OVERLOADED, CLIENT_CLOSED, FLOW_CONTROL, INVALID_OPTIONS',
  })
  code?: string;
}
